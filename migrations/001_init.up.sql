-- Meeboter's own schema. River's tables are created by rivermigrate, not here.

CREATE TABLE api_keys (
    id          uuid PRIMARY KEY,
    owner       text NOT NULL CHECK (owner <> ''),
    name        text NOT NULL DEFAULT '',
    prefix      text NOT NULL,
    key_hash    bytea NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE TABLE bots (
    id                  uuid PRIMARY KEY,
    owner               text NOT NULL,
    -- spec, written by the API
    meeting_url         text NOT NULL,
    meeting_platform    text NOT NULL CHECK (meeting_platform IN ('zoom', 'microsoft-teams', 'google-meet')),
    bot_name            text NOT NULL,
    join_at             timestamptz,
    automatic_leave     jsonb NOT NULL,
    recording           jsonb NOT NULL,
    metadata            jsonb NOT NULL DEFAULT '{}',
    callback_url        text,
    -- desired, written by the API
    desired             text NOT NULL DEFAULT 'RUNNING' CHECK (desired IN ('RUNNING', 'STOPPED')),
    stop_mode           text CHECK (stop_mode IN ('leave', 'cancel')),
    stop_requested_at   timestamptz,
    generation          bigint NOT NULL DEFAULT 1,
    -- bumped by every write that must wake the reconciler; a reconcile that
    -- sees it move while it ran runs again (no lost wake-up)
    revision            bigint NOT NULL DEFAULT 1,
    -- observed, written by the controller and the bot
    status              text NOT NULL CHECK (status IN ('SCHEDULED', 'QUEUED', 'DEPLOYING', 'JOINING_CALL',
                            'IN_WAITING_ROOM', 'IN_CALL', 'LEAVING', 'DONE', 'FATAL')),
    status_reason       text,
    observed_generation bigint NOT NULL DEFAULT 0,
    platform            text,
    current_attempt     integer NOT NULL DEFAULT 0,
    last_heartbeat_at   timestamptz,
    recording_key       text,
    next_check_at       timestamptz,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    queued_at           timestamptz,
    deploy_started_at   timestamptz,
    joined_at           timestamptz,
    ended_at            timestamptz,
    -- a terminal bot always has its end time and reason
    CHECK ((status IN ('DONE', 'FATAL')) = (ended_at IS NOT NULL AND status_reason IS NOT NULL))
);

CREATE INDEX bots_owner_id ON bots (owner, id DESC);
CREATE INDEX bots_due ON bots (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX bots_queued ON bots (queued_at, id) WHERE status = 'QUEUED';

CREATE TABLE idempotency_keys (
    owner        text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    bot_id       uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    response     bytea NOT NULL, -- the first 201 body, byte for byte
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (owner, key)
);

CREATE TABLE deployments (
    bot_id       uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    attempt      integer NOT NULL CHECK (attempt > 0),
    platform     text NOT NULL,
    name         text NOT NULL UNIQUE,
    external_id  text,
    token_hash   bytea UNIQUE,
    state        text NOT NULL CHECK (state IN ('PENDING', 'CREATING', 'RUNNING', 'STOPPING', 'GONE')),
    observed     text,
    observed_at  timestamptz,
    exit_code    integer,
    last_error   text,
    error_count  integer NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    PRIMARY KEY (bot_id, attempt)
);

-- Invariant 1, enforced by the database: at most one live workload per bot.
CREATE UNIQUE INDEX deployments_one_live_per_bot ON deployments (bot_id) WHERE state <> 'GONE';
CREATE INDEX deployments_live_platform ON deployments (platform) WHERE state <> 'GONE';

CREATE TABLE bot_events (
    id          bigserial PRIMARY KEY,
    bot_id      uuid NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    type        text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE INDEX bot_events_bot ON bot_events (bot_id, id);
