// Package cohorts groups users for targeting: regions (ISO 3166-1 alpha-2
// countries and named groups), attribute conditions compiled once and matched
// without allocation, and explicit member lists held as compact hashed sets
// sized for millions of users.
//
// It imports no storage, HTTP or CLI code.
package cohorts
