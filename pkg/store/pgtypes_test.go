package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/storetest"
)

// A uuid.UUID goes to Postgres as its 16 bytes, not through its
// driver.Valuer text and back; alone and in arrays it arrives intact.
func TestUUIDsAreSentAsBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewPool(t)
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	u := uuid.New()
	plan := conn.Conn().TypeMap().PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, u)
	require.Equal(t, "*store.uuidEncodePlan", fmt.Sprintf("%T", plan))

	var same bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT $1::uuid = $2::text::uuid`, u, u.String()).Scan(&same))
	require.True(t, same)
	ids := []uuid.UUID{uuid.New(), u}
	var back []uuid.UUID
	require.NoError(t, conn.QueryRow(ctx, `SELECT $1::uuid[]`, ids).Scan(&back))
	require.Equal(t, ids, back)
}
