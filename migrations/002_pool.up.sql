-- Coolify pool slots: reusable applications, typed by meeting platform and
-- spec. A slot's name is reserved here before its application is created.
CREATE TABLE pool_slots (
    id                  bigserial PRIMARY KEY,
    meeting_platform    text NOT NULL CHECK (meeting_platform IN ('zoom', 'microsoft-teams', 'google-meet')),
    number              integer NOT NULL CHECK (number > 0),
    name                text NOT NULL UNIQUE,
    spec_hash           text NOT NULL,
    app_uuid            text UNIQUE,
    state               text NOT NULL CHECK (state IN ('CREATING', 'IDLE', 'STARTING', 'BUSY', 'STOPPING', 'ERROR', 'DELETING')),
    -- the deployment (deployments.name) this slot runs; never two on one slot
    assigned_deployment text UNIQUE,
    slot_token_hash     bytea,
    observed            text,
    observed_at         timestamptz,
    start_requested_at  timestamptz,
    stop_requested_at   timestamptz,
    last_used_at        timestamptz,
    error_count         integer NOT NULL DEFAULT 0,
    last_error          text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    UNIQUE (meeting_platform, number)
);

CREATE INDEX pool_slots_claimable ON pool_slots (meeting_platform, spec_hash, last_used_at) WHERE state = 'IDLE';
