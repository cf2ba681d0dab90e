"""Staff sign-in: staff members and their roles, sign-ins and lockout, the ``/login`` pages
(and the base template the console and the editor extend), the role checks the app hands to
the console and the editor, and the ``allhours users`` commands.

Used by the app and the CLI. May import ``bot.chat.models`` (the users table shares its
metadata), ``bot.config``, ``bot.db`` and ``bot.migrations``; never a channel."""
