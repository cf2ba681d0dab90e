"""Conversations: the stored conversations and messages, the chat service that takes a
customer's message to an answer or a handoff, the real-time hub, rate limits, widget tokens,
and the port through which ``handoff`` reads and writes conversations.

May import ``bot.answering``, ``bot.config``, ``bot.db``, ``handoff`` and ``retrieval``; never a
channel (``bot.widget``), ``bot.staff`` or the app."""
