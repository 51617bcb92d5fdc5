// Package xenstoretest is an in-memory xenstored for unit tests. It speaks
// the real wire protocol (xs_wire.h, docs/misc/xenstore.txt) over any byte
// stream, a net.Pipe from Conn or a unix socket through Serve, so code under
// test uses the production xenstore.Client unchanged:
//
//	s := xenstoretest.New()
//	t.Cleanup(func() { s.Close() })
//	c := xenstore.NewClient(s.Conn())
//
// It does not share code with package xenstore: framing, path rules and
// permission parsing are written again here, so a bug in the client cannot
// hide behind the same bug in the fake.
//
// What it models, following C xenstored:
//
//   - A tree of nodes, each with a value, an ordered child list and a
//     permission list. New() starts with "/", "/local", "/local/domain" and
//     "/local/domain/0", all "n0".
//   - READ, WRITE (creates missing parents with empty values), MKDIR
//     (likewise; existing nodes untouched), RM (recursive; a missing node
//     with an existing parent is not an error), DIRECTORY (E2BIG when the
//     list does not fit 4096 bytes) and DIRECTORY_PART, GET_PERMS,
//     SET_PERMS, GET_DOMAIN_PATH, INTRODUCE, RELEASE, IS_DOMAIN_INTRODUCED,
//     RESUME, SET_TARGET, RESET_WATCHES. Anything else gets ENOSYS.
//   - Connections: Conn is dom0 (privileged). ConnAs(domid) is a guest:
//     relative paths resolve beneath /local/domain/<domid>, permissions are
//     enforced (owner = first entry gets full access; otherwise the entry
//     naming the domain, otherwise the first entry's access; SET_TARGET
//     lets a domain act as its target), missing nodes under an unreadable
//     parent answer EACCES rather than ENOENT, nodes a guest creates are
//     owned by it, and domain management requests answer EACCES.
//   - Transactions: TRANSACTION_START snapshots the whole tree; requests
//     with its tx_id see the snapshot; TRANSACTION_END T commits unless a
//     node the transaction read or wrote (or a parent whose child list it
//     changed) was modified since the start, in which case it answers
//     EAGAIN and discards the transaction. At most 10 per connection
//     (ENOSPC); nested starts get EBUSY; an unknown tx_id gets ENOENT.
//     FailCommits injects EAGAIN.
//   - Watches: WATCH replies OK and then fires once with the watched path.
//     A change to a node fires every watch on it or an ancestor; removing a
//     node also fires watches beneath it, with their own path. Changes in a
//     transaction fire on commit only. Relative watches get relative event
//     paths. Guests only hear about nodes they may read. @releaseDomain and
//     @introduceDomain fire on RELEASE and INTRODUCE, and from the test
//     through ReleaseDomain and IntroduceDomain. Duplicate (path, token)
//     gets EEXIST; at most 128 watches per connection (E2BIG).
//   - Protocol limits: a request whose header claims more than 4096
//     payload bytes gets the connection closed, as xenstored does; a reply
//     that would exceed 4096 bytes is replaced by E2BIG.
//
// Replies and events for one connection are queued and written by their
// own goroutine, in the order produced, so a slow client never blocks the
// server. SetStalled freezes request processing to test deadlines.
//
// Not modelled: quotas on nodes and value sizes, the XS_CONTROL commands,
// the shared-memory ring, and watch permission subtleties beyond "can the
// watcher read the changed node".
package xenstoretest
