-- On time (issue 11): bots wait READY for join_at, and the controller learns
-- how long each platform takes to make a bot ready.

-- READY: the bot is up and prepared, and waits for join_at to enter.
ALTER TABLE bots DROP CONSTRAINT bots_status_check;
ALTER TABLE bots ADD CONSTRAINT bots_status_check CHECK (status IN ('SCHEDULED', 'QUEUED', 'DEPLOYING', 'READY',
    'JOINING_CALL', 'IN_WAITING_ROOM', 'IN_CALL', 'LEAVING', 'DONE', 'FATAL'));

-- When the bot began entering its meeting (its first JOINING_CALL): its
-- lateness is entered_at - join_at.
ALTER TABLE bots ADD COLUMN entered_at timestamptz;

-- When the attempt's bot first reported (READY or JOINING_CALL): the
-- attempt's create-to-ready time, which the lead times are learned from.
ALTER TABLE deployments ADD COLUMN ready_at timestamptz;
CREATE INDEX deployments_ready ON deployments (platform, ready_at DESC) WHERE ready_at IS NOT NULL;

-- Capacity reserved at create for a scheduled bot: its platform and window
-- (from its admission, a lead time before join_at, to the end of its
-- longest life). Counted with the live bots under the platform's admission
-- lock; cleared when the bot ends.
ALTER TABLE bots ADD COLUMN reserved_platform text;
ALTER TABLE bots ADD COLUMN reserved_from timestamptz;
ALTER TABLE bots ADD COLUMN reserved_until timestamptz;
ALTER TABLE bots ADD CONSTRAINT bots_reservation_whole CHECK (
    (reserved_platform IS NULL) = (reserved_from IS NULL) AND (reserved_from IS NULL) = (reserved_until IS NULL));
CREATE INDEX bots_reserved ON bots (reserved_platform, reserved_from) WHERE reserved_platform IS NOT NULL;

-- The longest the bot stays, from join_at (from its deploy start without
-- one), when the user gives a shorter one than MAX_BOT_LIFETIME: it bounds
-- the bot's life, so its reserved window can be that much shorter.
ALTER TABLE bots ADD COLUMN max_duration_seconds integer CHECK (max_duration_seconds > 0);
