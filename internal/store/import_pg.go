package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// copyRowsPostgres streams rows into import_rows, a temporary table, with
// COPY FROM STDIN (pgx's CopyFrom, binary format) on conn, the import's
// connection, outside any transaction of its own: the COPY is one, and a
// COPY that fails leaves the table as it was. pgx reads the rows in a
// goroutine of its own, encoding them into 64 KiB messages as it goes, and
// returns once it has finished with them; if rows fails, the COPY is
// aborted and rows.Err says why.
func copyRowsPostgres(ctx context.Context, conn *sql.Conn, rows pgx.CopyFromSource) error {
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("copy: not a pgx connection (%T)", dc)
		}
		_, err := c.Conn().CopyFrom(ctx, pgx.Identifier{"import_rows"}, []string{"seq", "user_id", "region"}, rows)
		return err
	})
}
