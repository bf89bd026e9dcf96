-- deploy/docker-compose.yml: the orders database next to the tracker store's (`rasa`);
-- the action server creates its tables and demo orders (`python -m actions.db init`).
CREATE DATABASE orders OWNER rasa;
