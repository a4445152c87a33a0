package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
)

// DatasourceType is the plugin id of Grafana's InfluxDB data source.
const DatasourceType = "influxdb"

// Query is an InfluxQL query of Grafana's InfluxDB data source, as a panel
// target or an annotation's target holds it. The SDK has no type of its
// own for it; registering this one (see init) makes a dashboard decode back
// with its queries rather than as untyped maps.
type Query struct {
	RefID        string                `json:"refId,omitempty"`
	Datasource   *common.DataSourceRef `json:"datasource,omitempty"`
	Query        string                `json:"query"`
	RawQuery     bool                  `json:"rawQuery"`
	ResultFormat string                `json:"resultFormat,omitempty"` // time_series or table

	// An annotation's target: which columns of the answer are the event's
	// title, text, tags (comma-separated column names) and end (in ms since
	// the epoch; the start is the row's time).
	FromAnnotations bool   `json:"fromAnnotations,omitempty"`
	TitleColumn     string `json:"titleColumn,omitempty"`
	TextColumn      string `json:"textColumn,omitempty"`
	TagsColumn      string `json:"tagsColumn,omitempty"`
	TimeEndColumn   string `json:"timeEndColumn,omitempty"`
}

// The result formats of Query.
const (
	TimeSeries = "time_series"
	Table      = "table"
)

// ImplementsDataqueryVariant marks Query as a variants.Dataquery.
func (*Query) ImplementsDataqueryVariant() {}

// DataqueryType is the data source type the query is registered under.
func (*Query) DataqueryType() string { return DatasourceType }

// Equals reports whether other is the same query.
func (q *Query) Equals(other variants.Dataquery) bool {
	o, ok := other.(*Query)
	return ok && reflect.DeepEqual(q, o)
}

// Validate reports a query Grafana could not run.
func (q *Query) Validate() error {
	if q.Query == "" {
		return errors.New("influxdb query: no InfluxQL")
	}
	if !q.RawQuery {
		return errors.New("influxdb query: only raw InfluxQL is supported")
	}
	return nil
}

// Build makes Query its own builder, for the SDK's panel and annotation
// builders (cog.Builder[variants.Dataquery]).
func (q *Query) Build() (variants.Dataquery, error) {
	if err := q.Validate(); err != nil {
		return nil, cog.MakeBuildErrors("influxdb", err)
	}
	return q, nil
}

var _ cog.Builder[variants.Dataquery] = (*Query)(nil)

func init() {
	cog.NewRuntime().RegisterDataqueryVariant(variants.DataqueryConfig{
		Identifier:                 DatasourceType,
		DataqueryUnmarshaler:       decodeQuery(false),
		StrictDataqueryUnmarshaler: decodeQuery(true),
	})
}

// decodeQuery decodes a Query; strict refuses keys it does not know.
func decodeQuery(strict bool) func(raw []byte) (variants.Dataquery, error) {
	return func(raw []byte) (variants.Dataquery, error) {
		q := &Query{}
		dec := json.NewDecoder(bytes.NewReader(raw))
		if strict {
			dec.DisallowUnknownFields()
		}
		if err := dec.Decode(q); err != nil {
			return nil, err
		}
		return q, nil
	}
}
