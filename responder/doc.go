// Package responder builds the ICMP messages a router sends and decides
// whether it may send them.
//
// Read it in this order: MayError (never.go) applies the rules under which
// an error must never be sent, whatever the router's policy; Reason and
// AppendError (build.go) turn a decision into bytes; Limiter (limit.go)
// spaces errors per destination as Linux does; Policy (policy.go) holds a
// router's choices. Nothing here touches devices or routes: the router in
// package routing decides when to call these and where the result goes.
package responder
