package collect

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/prometheus/config"
)

// Prometheus's remote write starts reading the write-ahead log from the
// moment it starts: whatever a queue had not sent when the process died is
// never sent (prometheus/prometheus#8809). The collector keeps, per queue,
// a savepoint — the time up to which the receiver has everything — and on
// start sends what the log holds after it before the queues take over.

// savepointFile is kept beside the write-ahead log.
const savepointFile = "meshlens-savepoints.json"

// savepointState is the file's content: per queue, milliseconds since the
// epoch up to which every sample was acknowledged.
type savepointState struct {
	SentUntil map[string]int64 `json:"sent_until_ms"`
}

// queueKey names a queue across restarts: its name, or else its URL (the
// name Prometheus gives an unnamed queue is a hash of its whole
// configuration, which a tuned queue_config would change).
func queueKey(rw *config.RemoteWriteConfig) string {
	if rw.Name != "" {
		return rw.Name
	}
	return rw.URL.Redacted()
}

// savepointMargin is how far before a queue's highest acknowledged
// timestamp its savepoint is set. A queue sends through several shards: a
// sample of one series may wait in a shard for up to the batch deadline
// while another shard's later sample is acknowledged, so the highest
// acknowledged time can run ahead of what was sent by that much. Kept
// below the scrape interval, so that a series has at most one sample
// between savepoint and highest acknowledged time: that sample, if it
// was sent, is the series' latest at the receiver, which accepts it again
// as a duplicate rather than refusing it as out of order.
func savepointMargin(rw *config.RemoteWriteConfig, minInterval time.Duration) time.Duration {
	m := time.Duration(rw.QueueConfig.BatchSendDeadline)
	if minInterval > 0 && m > minInterval/2 {
		m = minInterval / 2
	}
	return m
}

func loadSavepoints(dir string) (map[string]int64, error) {
	b, err := os.ReadFile(filepath.Join(dir, savepointFile))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]int64{}, nil
	}
	if err != nil {
		return nil, err
	}
	var s savepointState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, errCorruptSavepoints{path: filepath.Join(dir, savepointFile), err: err}
	}
	if s.SentUntil == nil {
		s.SentUntil = map[string]int64{}
	}
	return s.SentUntil, nil
}

// errCorruptSavepoints is a savepoint file that does not read (a disk
// fault; the file is only ever replaced whole).
type errCorruptSavepoints struct {
	path string
	err  error
}

func (e errCorruptSavepoints) Error() string { return fmt.Sprintf("%s: %v", e.path, e.err) }

// writeSavepoints replaces the file whole (written aside, synced, renamed),
// so that a kill leaves the old savepoints or the new, never half of one.
func writeSavepoints(dir string, sentUntil map[string]int64) error {
	b, err := json.Marshal(savepointState{SentUntil: sentUntil})
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, savepointFile+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(dir, savepointFile))
}
