package config

// staticKeys are the [server] keys of the directory listing and of hidden
// files; the static file handler reads them (package static).
var staticKeys = map[string]serverKey{
	"autoindex": func(_ *loader, s *Server, v string) (err error) {
		s.Autoindex, err = parseSwitch(v)
		return err
	},
	"hidden_files": func(_ *loader, s *Server, v string) error {
		v, err := oneOf(v, "deny", "allow")
		s.DenyHidden = v == "deny"
		return err
	},
}

func init() {
	for k, f := range staticKeys {
		serverKeys[k] = f
	}
}
