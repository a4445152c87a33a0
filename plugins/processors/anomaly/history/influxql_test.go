package history

import (
	"testing"

	"github.com/influxdata/influxql"
	"github.com/stretchr/testify/require"
)

// Names and values read back unchanged by InfluxDB's own parser, whatever
// quotes, backslashes and newlines they hold.
func TestQuotingReadsBackThroughInfluxQL(t *testing.T) {
	for _, s := range []string{
		"plain", "with space", `dq"`, `sq'`, `back\slash`, `\`, `\\`, `ends in \`, "new\nline", `\n literally`,
		"tab\tand", "ünïcødé 中文 😀", `"'\` + "\n", `a=b,c d`,
	} {
		t.Run(s, func(t *testing.T) {
			var q []byte
			q = append(q, "SELECT "...)
			q = appendIdent(q, s)
			q = append(q, " FROM "...)
			q = appendIdent(q, s)
			q = append(q, '.')
			q = appendIdent(q, s)
			q = append(q, " WHERE "...)
			q = appendIdent(q, s)
			q = append(q, " = "...)
			q = appendString(q, s)
			require.LessOrEqual(t, len(q)-len("SELECT  FROM . WHERE  = "), 5*quotedSize(s))
			stmt, err := influxql.ParseStatement(string(q))
			require.NoError(t, err, "%s", q)
			sel := stmt.(*influxql.SelectStatement)
			require.Equal(t, s, sel.Fields[0].Expr.(*influxql.VarRef).Val)
			m := sel.Sources[0].(*influxql.Measurement)
			require.Equal(t, s, m.RetentionPolicy)
			require.Equal(t, s, m.Name)
			cond := sel.Condition.(*influxql.BinaryExpr)
			require.Equal(t, s, cond.LHS.(*influxql.VarRef).Val)
			require.Equal(t, s, cond.RHS.(*influxql.StringLiteral).Val)
		})
	}
}

func TestBuildQuery(t *testing.T) {
	q := &query{
		fields: []string{"usage_idle", "usage_user"},
		keys:   []string{"cpu", "dc", "host"},
		units: []*unit{
			{tags: []tag{{"cpu", "cpu-total"}, {"host", "a"}}},
			{tags: []tag{{"cpu", "cpu0"}, {"dc", "eu"}, {"host", "b'c"}}},
		},
		lo: -5, hi: 1700000000000000000, limit: 2016,
	}
	require.Equal(t, `SELECT "usage_idle","usage_user" FROM "autogen"."cpu" `+
		`WHERE time >= -5 AND time < 1700000000000000000 `+
		`AND (("cpu"='cpu-total' AND "dc"='' AND "host"='a') OR ("cpu"='cpu0' AND "dc"='eu' AND "host"='b\'c')) `+
		`GROUP BY * ORDER BY time DESC LIMIT 2016`,
		string(buildQuery(nil, "autogen", "cpu", q)))

	// A series without tags, alone in its query: every stored series of the
	// measurement is read, and those with identifying tags set aside.
	q = &query{fields: []string{"v"}, units: []*unit{{}}, lo: 0, hi: 10, limit: 1}
	require.Equal(t, `SELECT "v" FROM "m" WHERE time >= 0 AND time < 10 GROUP BY * ORDER BY time DESC LIMIT 1`,
		string(buildQuery(nil, "", "m", q)))
}

// The planner's estimate of a statement's text is never below its length.
func TestConditionSizesBoundTheText(t *testing.T) {
	units := []*unit{
		{tags: []tag{{"cpu", `c"pu`}, {"host", "a\n"}}},
		{tags: []tag{{"dc", `e\u`}, {"host", "b'c"}}},
		{},
	}
	keys := []string{"cpu", "dc", "host"}
	estimate := 0
	var text []byte
	for _, u := range units {
		estimate += conditionSize(u.tags)
		j := 0
		for _, k := range keys {
			if j < len(u.tags) && u.tags[j].key == k {
				j++
			} else {
				estimate += absentSize(k)
			}
		}
		if len(text) > 0 {
			text = append(text, " OR "...)
		}
		text = u.appendCondition(text, keys)
	}
	require.GreaterOrEqual(t, estimate, len(text))
}
