// saramaload: the TLS bench's Sarama client (bench/macro/tls.mjs, TLS_BENCH_CLIENT=sarama).
// Sarama 1.22 from Debian (golang-github-shopify-sarama-dev), built in GOPATH mode by the
// bench. One mode per run, one JSON line on stdout like tribload's:
//
//	produce  -n records of -s bytes (null key, so Sarama's hash partitioner picks a random
//	         partition) through one AsyncProducer; timed from the first send to the last ack.
//	consume  reads -n records from offset 0 of every partition of the topic with one
//	         Consumer (no group, as tribload); timed from the start to the n-th record.
//
// Configuration: Sarama's defaults except what the bench needs and says here:
//
//	Version = V2_1_0_0 (Produce v7 / Fetch v10 with record batches: the default 0.8.2 would
//	measure message format v0, which no current client sends); Producer.Return.Successes
//	(to count acks); RequiredAcks = WaitForLocal (acks=1, Sarama's default and tribload's).
//	-flush-ms and -fetch-bytes change Producer.Flush.Frequency and Consumer.Fetch.Default
//	(defaults: 0 = send as soon as possible, and 32768 bytes per partition per fetch).
//	-tls-ca turns on config.Net.TLS with that CA (server name localhost).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io/ioutil"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Shopify/sarama"
)

func fatal(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "saramaload: "+format+"\n", args...)
	fmt.Printf("{\"tool\":\"saramaload\",\"error\":%q}\n", fmt.Sprintf(format, args...))
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		fatal("usage: saramaload produce|consume -b HOST:PORT -t TOPIC -n COUNT [-s SIZE] [-tls-ca FILE]")
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet(mode, flag.ExitOnError)
	broker := fs.String("b", "127.0.0.1:9092", "bootstrap host:port")
	topic := fs.String("t", "bench", "topic (must exist)")
	n := fs.Int("n", 100000, "records")
	size := fs.Int("s", 1024, "value bytes")
	caFile := fs.String("tls-ca", "", "CA certificate (PEM): connect with TLS")
	flushMs := fs.Int("flush-ms", 0, "Producer.Flush.Frequency in ms (0: Sarama's default)")
	fetchBytes := fs.Int("fetch-bytes", 0, "Consumer.Fetch.Default (0: Sarama's default, 32768)")
	fs.Parse(os.Args[2:])

	config := sarama.NewConfig()
	config.Version = sarama.V2_1_0_0
	config.ClientID = "saramaload"
	config.Producer.Return.Successes = true
	config.Producer.RequiredAcks = sarama.WaitForLocal
	if *flushMs > 0 {
		config.Producer.Flush.Frequency = time.Duration(*flushMs) * time.Millisecond
	}
	if *fetchBytes > 0 {
		config.Consumer.Fetch.Default = int32(*fetchBytes)
	}
	if *caFile != "" {
		pem, err := ioutil.ReadFile(*caFile)
		if err != nil {
			fatal("%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fatal("no certificate in %s", *caFile)
		}
		config.Net.TLS.Enable = true
		config.Net.TLS.Config = &tls.Config{RootCAs: pool, ServerName: "localhost"}
	}

	switch mode {
	case "produce":
		produce(config, *broker, *topic, *n, *size)
	case "consume":
		consume(config, *broker, *topic, *n)
	default:
		fatal("unknown mode %q", mode)
	}
}

func report(mode string, count int64, bytes int64, seconds float64) {
	fmt.Printf("{\"tool\":\"saramaload\",\"mode\":%q,\"count\":%d,\"seconds\":%.3f,\"msgs_per_s\":%.1f,\"mb_per_s\":%.2f}\n",
		mode, count, seconds, float64(count)/seconds, float64(bytes)/seconds/1e6)
}

func produce(config *sarama.Config, broker, topic string, n, size int) {
	producer, err := sarama.NewAsyncProducer([]string{broker}, config)
	if err != nil {
		fatal("producer: %v", err)
	}
	value := make([]byte, size)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	encoder := sarama.ByteEncoder(value) // one shared value, as tribload's slices of one buffer
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			producer.Input() <- &sarama.ProducerMessage{Topic: topic, Value: encoder}
		}
	}()
	// Every record comes back once, on Successes or on Errors.
	acked, failed := 0, 0
	var firstErr error
	for acked+failed < n {
		select {
		case <-producer.Successes():
			acked++
		case e := <-producer.Errors():
			if failed == 0 {
				firstErr = e.Err
			}
			failed++
		}
	}
	seconds := time.Since(start).Seconds()
	producer.AsyncClose()
	if failed > 0 {
		fatal("%d of %d records failed, first: %v", failed, n, firstErr)
	}
	report("produce", int64(n), int64(n)*int64(size), seconds)
}

func consume(config *sarama.Config, broker, topic string, n int) {
	consumer, err := sarama.NewConsumer([]string{broker}, config)
	if err != nil {
		fatal("consumer: %v", err)
	}
	partitions, err := consumer.Partitions(topic)
	if err != nil {
		fatal("partitions of %s: %v", topic, err)
	}
	var received, bytes int64
	done := make(chan struct{})
	var once sync.Once
	start := time.Now()
	for _, p := range partitions {
		pc, err := consumer.ConsumePartition(topic, p, 0)
		if err != nil {
			fatal("consume %s/%d: %v", topic, p, err)
		}
		go func(pc sarama.PartitionConsumer) {
			for m := range pc.Messages() {
				atomic.AddInt64(&bytes, int64(len(m.Value)))
				if atomic.AddInt64(&received, 1) == int64(n) {
					once.Do(func() { close(done) })
				}
			}
		}(pc)
		go func(pc sarama.PartitionConsumer) {
			for e := range pc.Errors() {
				fmt.Fprintf(os.Stderr, "saramaload: consume: %v\n", e)
			}
		}(pc)
	}
	select {
	case <-done:
	case <-time.After(600 * time.Second):
		fatal("timed out after %d of %d records", atomic.LoadInt64(&received), n)
	}
	seconds := time.Since(start).Seconds()
	report("consume", atomic.LoadInt64(&received), atomic.LoadInt64(&bytes), seconds)
	consumer.Close()
}
