// Package history reads the recent history of series from InfluxDB, so that
// processors.anomaly can learn a series it has no model for from the points
// its collectors already wrote, instead of warming it up live.
//
// A series is what the processor scores: a measurement's field, with the
// values of its identifying tags (series_tags, never the anomaly tag). Its
// history is the points of [Start-lookback, Start), Start the event time of
// its first live point: the max_points most recent, oldest first, as the
// float64 values the processor would have learned (integers beyond ±2^53
// and non-numeric values skipped and counted, as the processor skips them).
//
// Fetch reads many series of one measurement per InfluxQL statement over
// /query, which InfluxDB 1.x serves and 2.x and 3.x serve through their
// 1.x-compatible API:
//
//	SELECT "f" FROM "rp"."m" WHERE time >= LO AND time < HI
//	AND (("host"='a' AND "dc"='eu') OR ...) GROUP BY * ORDER BY time DESC LIMIT max_points
//
// InfluxDB stores one series of the processor as several: the anomalous
// points under the anomaly tag (cpu,anomaly=up,host=a), and, when
// series_tags leaves tags out, one per value of those. GROUP BY * returns
// each stored series on its own, newest first, so the client merges those
// of one series in time order, keeps one point per timestamp, and takes the
// max_points most recent. LIMIT counts the rows of each stored series; a
// series whose stored series LIMIT cut short before its window was covered
// (points newer than its Start in a query spanning several Starts, or rows
// without its field) is read again by a statement of its own window and
// field, which LIMIT cannot cut short. So a series' history is exactly its
// definition, whatever the batching (TestFetchEqualsTheDefinition).
//
// The answer is read with chunked=true and epoch=ns and decoded as it
// streams by encoding/json's Decoder, straight into the series' points,
// with every float64 read back bit for bit; see README.md for the measured
// speed and what each setting costs the database.
package history
