//! Job payloads and the queue: the contract between the bot and the worker.
