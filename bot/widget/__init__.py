"""The widget channel: the WebSocket ``/ws/widget``, its REST twin ``/api/conversations``, the
bodies they accept and return, and the widget's static files and CORS policy.

May import ``bot.chat`` and ``bot.config``; never ``bot.staff`` or the app."""
