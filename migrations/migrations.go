package migrations

import "embed"

// FS holds the project's SQL migrations, NNN_name.up.sql, applied in name order.
//
//go:embed *.up.sql
var FS embed.FS
