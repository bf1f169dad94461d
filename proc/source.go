//go:build linux

package proc

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/nproxy/nproxy/config"
)

// ConfigSource says where a configuration comes from: a file or the
// embedded default, plus the command-line overrides. The master keeps it to
// re-read the same file with the same overrides on reload.
type ConfigSource struct {
	File    string // "" for the embedded default
	Backend string // --backend; "" keeps the file's
	Workers int    // --workers; 0 keeps the file's
	// Default holds `nproxy PATH`, --listen and --port: changes to the
	// embedded default, written into its text (config.DefaultText), so
	// the bytes the workers are handed carry them too. Only without File.
	Default config.DefaultOptions
}

// Name is the configuration's name in messages: the file as given, or
// config.DefaultName.
func (s ConfigSource) Name() string {
	if s.File == "" {
		return config.DefaultName
	}
	return s.File
}

// Load reads and validates the configuration and applies the overrides. It
// also returns the exact bytes it validated: the master hands those bytes,
// not the file name, to its workers, so that an edit made after a start or
// a reload cannot reach a worker the master did not validate it for.
func (s ConfigSource) Load() (*config.Config, []byte, error) {
	var data []byte
	var err error
	if s.File != "" {
		data, err = os.ReadFile(s.File)
	} else {
		data, err = config.DefaultText(s.Default)
	}
	if err != nil {
		return nil, nil, err
	}
	cfg, err := s.parse(data, nil)
	if err != nil {
		return nil, nil, err
	}
	return cfg, data, nil
}

// workerConfig is what a master hands its workers in the config memfd:
// the text it validated and, as they were read then, the files the TLS
// keys and the WebAssembly module lines name (config.Config.Files). A
// worker started later (a respawn) parses these, so a certificate, a key
// or a .wasm module rewritten after a reload the master refused never
// reaches it.
type workerConfig struct {
	Text  []byte            `json:"text"`
	Files map[string][]byte `json:"files"`
}

// encodeWorkerConfig makes the config memfd's content.
func encodeWorkerConfig(data []byte, cfg *config.Config) ([]byte, error) {
	return json.Marshal(workerConfig{Text: data, Files: cfg.Files})
}

// parseWorkerConfig validates the config memfd's content as the
// source's file, reading the files from it, not from the disk.
func (s ConfigSource) parseWorkerConfig(b []byte) (*config.Config, error) {
	var wc workerConfig
	if err := json.Unmarshal(b, &wc); err != nil {
		return nil, fmt.Errorf("%w: config descriptor: %v", ErrWorkerSpec, err)
	}
	if wc.Files == nil {
		wc.Files = map[string][]byte{}
	}
	return s.parse(wc.Text, wc.Files)
}

// parse validates data as the source's file and applies the overrides.
// The files TLS keys and .wasm module lines name are read from files, or
// from the disk when files is nil.
// Relative paths resolve as config.Load and config.LoadDefault resolve
// them: a worker runs in its master's working directory, so it resolves
// them to the same absolute paths.
func (s ConfigSource) parse(data []byte, files map[string][]byte) (*config.Config, error) {
	var cfg *config.Config
	var err error
	switch {
	case s.File == "" && files == nil:
		cfg, err = config.ParseDefault(data)
	case s.File == "":
		cfg, err = config.ParseDefaultFiles(data, files)
	case files == nil:
		cfg, err = config.Parse(s.File, data)
	default:
		cfg, err = config.ParseFiles(s.File, data, files)
	}
	if err != nil {
		return nil, err
	}
	if s.Backend != "" {
		cfg.Backend = s.Backend
	}
	if s.Workers > 0 {
		cfg.WorkerProcesses = s.Workers
	}
	return cfg, nil
}
