DROP TABLE inbound_updates;
