package config

// error_log_format = text | json (global): the error log's line format.
// text (the default) is nginx's "2006/01/02 15:04:05 [error] PID:
// MESSAGE"; json writes one object per line, for log shippers.

func init() {
	globalKeys["error_log_format"] = func(_ *loader, c *Config, v string) (err error) {
		c.ErrorLogFormat, err = oneOf(v, "text", "json")
		return err
	}
}
