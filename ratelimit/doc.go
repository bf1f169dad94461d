// Package ratelimit is the per-client request rate limit of a [server]
// block (rate_limit, rate_burst): nginx's limit_req keyed by
// $binary_remote_addr, with 429 instead of nginx's default 503.
//
// # Algorithm
//
// Each client has a token bucket that holds Burst+1 requests and refills
// at Rate requests per second, kept in the equivalent "generic cell rate
// algorithm" form: one theoretical arrival time (tat) per client. A
// request at now is allowed when tat-now <= Burst*T (T = 1/Rate), and then
// moves tat to max(tat, now)+T. So Burst+1 requests may arrive at once,
// and after that one per T, exactly nginx's limit_req with burst=Burst
// and nodelay (nginx's excess is tat-now measured in requests).
//
// # Clients
//
// An IPv4 client is its whole address. An IPv6 client is the first
// IPv6Prefix bits of its address (64 by default): one /64 is normally one
// subscriber's network, and a host picks any of its 2^64 interface
// identifiers at will (RFC 8981 temporary addresses), so counting them
// apart would give one machine as many buckets as it cares to make.
//
// # Table
//
// The buckets live in a fixed table (Capacity entries, 24 bytes each,
// allocated once) of sets of eight ways. A client may live in either of
// two sets, both chosen by one keyed hash of its address (SipHash-1-3
// under a key drawn from crypto/rand by New, see siphash.go): a client
// cannot know or aim at the sets its addresses fall into, so addresses
// next to each other (one /24, neighbouring /64s) spread over the whole
// table like any others.
//
// A client whose bucket has refilled completely (tat <= now) is
// indistinguishable from a new one, so its entry is free for reuse. A new
// client goes to the one of its two sets that holds fewer busy clients
// (tat > now), into its fullest bucket: an idle entry if the set has one.
// Choosing the less busy of two sets ("two choices") keeps the sets
// evenly loaded: as long as fewer clients are busy at once than about two
// thirds of the capacity, every one of them keeps its entry, where with
// a single choice some sets overflow before the table is half full.
//
// Beyond that, when all sixteen ways of a new client's two sets are busy,
// it takes the fullest bucket of the two, forgetting the client whose
// limit that relaxes least. Forgetting can only make the limit more lenient for the
// forgotten client, never refuse a client wrongly; a table of a fixed
// size has to forget someone once more clients are busy than it holds
// (nginx's limit_req then drops its least recently used states, with the
// same effect). The table never grows, whatever the number of clients,
// and a lookup allocates nothing.
//
// # Scope
//
// A Limiter belongs to one worker loop (no locks). With N worker processes
// a client whose connections land on several workers (SO_REUSEPORT spreads
// connections, not clients) can get up to N times the rate, as with nginx
// limit_req without a shared zone. A keep-alive connection stays on one
// worker, so a single connection sees the configured limit exactly.
package ratelimit
