//go:build linux

package http

// Parser is a resumable HTTP/1.1 request-head parser: an explicit state
// machine that accepts a request delivered in any number of pieces, down to
// one byte at a time, and allocates nothing.
//
// PLACEHOLDER API: the parser work replaces this file's body.
type Parser struct {
	state uint8
	pos   int
}

// Reset prepares p for a new request.
func (p *Parser) Reset() { *p = Parser{} }

// Parse continues parsing the request head held in buf, which contains the
// request from its first byte (buf may have grown since the previous call;
// its prefix is unchanged). It returns done=true once the head is complete,
// with req filled in and req.HeadLen set; (false, nil) when more bytes are
// needed; and an *Error naming the response status for a bad request.
func (p *Parser) Parse(buf []byte, req *Request) (done bool, err error) {
	return false, ErrBadRequest
}
