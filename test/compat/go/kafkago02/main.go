// Produces -n keyed messages with kafka-go 0.2 (Debian's golang-github-segmentio-kafka-go-dev),
// which speaks Produce v2 / Fetch v2 / ListOffsets v1 with message format v1, then reads
// them back from partition 0 (and, with -group, through a consumer group) and prints one
// JSON line per message read, for test/compat/go-clients.test.ts to check.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	kafka "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/gzip"
	"github.com/segmentio/kafka-go/lz4"
	"github.com/segmentio/kafka-go/snappy"
)

type line struct {
	Offset    int64  `json:"offset"`
	Key       string `json:"key"`
	Value     string `json:"value"`
	Timestamp int64  `json:"timestampMs"`
}

func fatal(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	broker := flag.String("broker", "", "host:port")
	topic := flag.String("topic", "", "topic (must exist)")
	n := flag.Int("n", 100, "messages to produce and read back")
	codec := flag.String("codec", "none", "none, gzip, snappy or lz4")
	group := flag.String("group", "", "read through this consumer group instead of partition 0 directly")
	produce := flag.Bool("produce", true, "produce the messages first (false: only read n messages another client wrote)")
	flag.Parse()

	var compression kafka.CompressionCodec
	switch *codec {
	case "none":
	case "gzip":
		compression = gzip.NewCompressionCodec()
	case "snappy":
		compression = snappy.NewCompressionCodec()
	case "lz4":
		compression = lz4.NewCompressionCodec()
	default:
		fatal("unknown codec %q", *codec)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	if *produce {
		w := kafka.NewWriter(kafka.WriterConfig{
			Brokers:          []string{*broker},
			Topic:            *topic,
			BatchSize:        50,
			BatchTimeout:     10 * time.Millisecond,
			RequiredAcks:     -1,
			CompressionCodec: compression,
		})
		msgs := make([]kafka.Message, *n)
		for i := range msgs {
			msgs[i] = kafka.Message{Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte(fmt.Sprintf("value-%d", i))}
		}
		if err := w.WriteMessages(ctx, msgs...); err != nil {
			fatal("produce: %v", err)
		}
		if err := w.Close(); err != nil {
			fatal("close writer: %v", err)
		}

	}

	config := kafka.ReaderConfig{Brokers: []string{*broker}, Topic: *topic, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 100 * time.Millisecond}
	if *group != "" {
		config.GroupID = *group
	}
	r := kafka.NewReader(config)
	out := json.NewEncoder(os.Stdout)
	for i := 0; i < *n; i++ {
		m, err := r.ReadMessage(ctx)
		if err != nil {
			fatal("read message %d: %v", i, err)
		}
		out.Encode(line{Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Timestamp: m.Time.UnixNano() / int64(time.Millisecond)})
	}
	if err := r.Close(); err != nil {
		fatal("close reader: %v", err)
	}
}
