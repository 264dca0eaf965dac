-- Bot writes fenced (issue 12): a user reading a bot's timeline must tell
-- the controller's record from what a bot claims, and a bot's claims are
-- counted per attempt.

-- source: 'controller' (status changes, stops, recordings, webhook
-- deliveries, ...) or 'bot' (POST /bot/v1/events). attempt: which attempt
-- of the bot claimed a 'bot' event (NULL for the controller's).
ALTER TABLE bot_events
    ADD COLUMN source text NOT NULL DEFAULT 'controller' CHECK (source IN ('controller', 'bot')),
    ADD COLUMN attempt int;

-- Events written before this migration: a type the controller never writes
-- was a bot's. (A bot that forged a controller type before now cannot be
-- told apart; from now on it is refused.)
UPDATE bot_events SET source = 'bot'
WHERE type NOT IN ('SCHEDULED', 'QUEUED', 'DEPLOYING', 'READY', 'JOINING_CALL', 'IN_WAITING_ROOM', 'IN_CALL',
    'LEAVING', 'DONE', 'FATAL', 'STOP_REQUESTED', 'RECORDING_UPLOADED', 'WEBHOOK_DELIVERY', 'CONTAINER_RESTARTED',
    'RESTARTING', 'PLATFORM_FALLBACK', 'UPDATED');

-- The per-attempt cap counts an attempt's claims.
CREATE INDEX bot_events_bot_attempt ON bot_events (bot_id, attempt) WHERE source = 'bot';
