"""The email channel: customers write to the support address and get answers by email.

Inbound mail (``inbox``: an SMTP receiver behind the ``Inbox`` interface) is parsed
(``parse``: quoted history and signatures stripped, attachments bounded, auto-replies and
bounces recognised), threaded onto its conversation (``threads``: signed reply addresses,
``In-Reply-To``/``References``, refused for a stranger) and answered through the chat service
like a widget message (``channel``). Outbound mail (``compose``, ``mailer``) carries the bot's
answers with their sources as links, agents' replies, and transcripts the widget asks for.

May import ``bot.chat``, ``bot.answering``, ``bot.config`` and ``bot.db``; never another
channel (``bot.widget``), ``bot.staff`` or the app."""
