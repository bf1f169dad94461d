//go:build linux

package proc

import (
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
	cfg, err := s.parse(data)
	if err != nil {
		return nil, nil, err
	}
	return cfg, data, nil
}

// parse validates data as the source's file and applies the overrides.
// Relative paths resolve as config.Load and config.LoadDefault resolve
// them: a worker runs in its master's working directory, so it resolves
// them to the same absolute paths.
func (s ConfigSource) parse(data []byte) (*config.Config, error) {
	var cfg *config.Config
	var err error
	if s.File == "" {
		cfg, err = config.ParseDefault(data)
	} else {
		cfg, err = config.Parse(s.File, data)
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
