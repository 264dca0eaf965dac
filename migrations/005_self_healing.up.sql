-- Self-healing (issue 10): what an attempt needs to survive ambiguous
-- failures, slow deploys and asynchronous stops.

-- The attempt's bot token, kept in the clear only while a create may still
-- be retried (until the create is recorded and the bot has reported, or
-- the attempt ends): every retry of a create that may already have happened
-- must give the workload the same token, or the adopted workload would hold
-- a token that no longer works.
ALTER TABLE deployments ADD COLUMN pending_token text;

-- Bumped after a definite failure that created nothing (a capacity
-- refusal), so a platform whose idempotency tokens remember failures (ECS
-- clientToken) is asked afresh; an ambiguous failure keeps it.
ALTER TABLE deployments ADD COLUMN create_try integer NOT NULL DEFAULT 0;

-- The next create of a failed or capacity-refused attempt waits until then.
ALTER TABLE deployments ADD COLUMN retry_at timestamptz;

-- The last time the platform reported the workload progressing (pending or
-- starting): the deploy deadline runs from it.
ALTER TABLE deployments ADD COLUMN progress_at timestamptz;

-- When the current stop was asked for; the deployment stays STOPPING, and
-- counts against its platform's limit, until the workload is seen gone.
ALTER TABLE deployments ADD COLUMN stop_requested_at timestamptz;

-- A slot start whose answer was lost may have happened. Starting a running
-- container again redeploys it (a restart that ends its meeting), so the
-- start is not repeated until Coolify's deployments show it did not happen.
ALTER TABLE pool_slots ADD COLUMN start_unknown boolean NOT NULL DEFAULT false;

-- When the attempt last moved to another platform for capacity: a platform
-- that refuses it right after a move makes it wait, not bounce back.
ALTER TABLE deployments ADD COLUMN moved_at timestamptz;
