"""The answering engine: one turn from a question (and its history) to a cited draft answer,
its confidence and the handoff policy's decision (``turns.answer_turn``). It condenses the
question, retrieves, generates through the configured LLM adapter and scores the result.

May import ``bot.config``, ``retrieval`` and ``handoff.policy``; never ``bot.chat``, a channel,
``bot.staff`` or the app: it knows nothing of conversations."""
