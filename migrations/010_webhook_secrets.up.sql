-- A signing secret per tenant (issue 12): every delivery to a tenant's
-- callback_url is signed with its unexpired secrets, so no tenant can sign
-- webhooks another tenant's receiver accepts. A rotation gives the old
-- secret an expiry (the overlap during which both sign) and adds a new one.
-- Kept in clear: signing needs the key itself.
CREATE TABLE webhook_secrets (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner      text NOT NULL CHECK (owner <> ''),
    secret     text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz
);

CREATE INDEX webhook_secrets_owner ON webhook_secrets (owner, id);
