DROP TABLE chat_send_slots;
DROP TABLE telegram_budget;
