// Package migrations embeds Meeboter's own SQL schema (NNN_name.up.sql files,
// applied in order by pkg/store). River's schema is migrated separately through
// rivermigrate.
package migrations
