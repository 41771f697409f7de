// Produces -n keyed messages with Sarama 1.22 (Debian's golang-github-shopify-sarama-dev) in
// its default configuration, whose protocol version is Kafka 0.8.2: Metadata v0, Produce v0
// with message format v0, ListOffsets v0 and Fetch v0. Then reads them back from partition
// 0 and prints one JSON line per message, for test/compat/go-clients.test.ts to check.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/Shopify/sarama"
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
	codec := flag.String("codec", "none", "none, gzip or snappy (lz4 needs a newer protocol version)")
	group := flag.String("group", "", "after reading, commit the next offset for this group (OffsetCommit v1) and read it back (OffsetFetch v1)")
	produce := flag.Bool("produce", true, "produce the messages first (false: only read n messages another client wrote)")
	flag.Parse()

	config := sarama.NewConfig() // Version stays the default, V0_8_2_0.
	config.Producer.Return.Successes = true
	config.Producer.RequiredAcks = sarama.WaitForAll
	switch *codec {
	case "none":
	case "gzip":
		config.Producer.Compression = sarama.CompressionGZIP
	case "snappy":
		config.Producer.Compression = sarama.CompressionSnappy
	default:
		fatal("unknown codec %q", *codec)
	}
	// Let the producer batch several messages into one request (and one compressed wrapper).
	config.Producer.Flush.Messages = 25
	config.Producer.Flush.Frequency = 10 * time.Millisecond

	if *produce {
		producer, err := sarama.NewAsyncProducer([]string{*broker}, config)
		if err != nil {
			fatal("producer: %v", err)
		}
		go func() {
			for i := 0; i < *n; i++ {
				producer.Input() <- &sarama.ProducerMessage{Topic: *topic, Partition: 0, Key: sarama.StringEncoder(fmt.Sprintf("key-%d", i)), Value: sarama.StringEncoder(fmt.Sprintf("value-%d", i))}
			}
		}()
		for i := 0; i < *n; i++ {
			select {
			case <-producer.Successes():
			case e := <-producer.Errors():
				fatal("produce: %v", e.Err)
			case <-time.After(30 * time.Second):
				fatal("produce: no acknowledgement after %d messages", i)
			}
		}
		if err := producer.Close(); err != nil {
			fatal("close producer: %v", err)
		}

	}

	consumer, err := sarama.NewConsumer([]string{*broker}, config)
	if err != nil {
		fatal("consumer: %v", err)
	}
	pc, err := consumer.ConsumePartition(*topic, 0, sarama.OffsetOldest)
	if err != nil {
		fatal("consume partition: %v", err)
	}
	out := json.NewEncoder(os.Stdout)
	for i := 0; i < *n; i++ {
		select {
		case m := <-pc.Messages():
			out.Encode(line{Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Timestamp: m.Timestamp.UnixNano() / int64(time.Millisecond)})
		case e := <-pc.Errors():
			fatal("consume: %v", e.Err)
		case <-time.After(30 * time.Second):
			fatal("consume: nothing after %d messages", i)
		}
	}
	pc.Close()
	consumer.Close()

	if *group != "" {
		commitAndReadBack(*broker, *topic, *group, int64(*n), config)
	}
}

// commitAndReadBack commits `next` for partition 0 through Sarama's offset manager, which at
// protocol 0.8.2 finds the coordinator with FindCoordinator v0 and commits with
// OffsetCommit v1, then reads it back with a second manager (OffsetFetch v1).
func commitAndReadBack(broker, topic, group string, next int64, config *sarama.Config) {
	for round := 0; round < 2; round++ {
		client, err := sarama.NewClient([]string{broker}, config)
		if err != nil {
			fatal("client: %v", err)
		}
		om, err := sarama.NewOffsetManagerFromClient(group, client)
		if err != nil {
			fatal("offset manager: %v", err)
		}
		pom, err := om.ManagePartition(topic, 0)
		if err != nil {
			fatal("manage partition: %v", err)
		}
		if round == 0 {
			pom.MarkOffset(next, "sarama-0.8.2")
		} else if got, metadata := pom.NextOffset(); got != next || metadata != "sarama-0.8.2" {
			fatal("committed offset read back as %d %q, expected %d %q", got, metadata, next, "sarama-0.8.2")
		} else {
			fmt.Fprintf(os.Stderr, "committed offset %d read back\n", got)
		}
		pom.Close()
		if err := om.Close(); err != nil {
			fatal("close offset manager: %v", err)
		}
		client.Close()
	}
}
