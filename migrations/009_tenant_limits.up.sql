-- Fair capacity (issue 12): per-tenant limits. A tenant is an API key's
-- owner. A NULL column follows the environment's default (TENANT_*); 0 means
-- no limit for that tenant.
CREATE TABLE tenant_limits (
    owner           text PRIMARY KEY CHECK (owner <> ''),
    rate_per_second double precision CHECK (rate_per_second >= 0 AND rate_per_second < 'Infinity'),
    rate_burst      integer CHECK (rate_burst >= 0),
    max_bots        integer CHECK (max_bots >= 0),
    updated_at      timestamptz NOT NULL
);

-- The cap counts a tenant's unfinished bots at every create.
CREATE INDEX bots_owner_unfinished ON bots (owner) WHERE status NOT IN ('DONE', 'FATAL');
