// Run by the mongo healthcheck on every interval, so it must be idempotent.
// Exits non-zero until this node is a writable primary: services that need
// transactions must not start against a replica set still electing.
try {
  rs.status();
} catch (e) {
  if (e.codeName !== "NotYetInitialized") throw e;
  // The member's host is what drivers connect to after discovery, so it must be
  // the name other containers resolve, not localhost.
  rs.initiate({ _id: "rs0", members: [{ _id: 0, host: "mongo:27017" }] });
}
if (!db.hello().isWritablePrimary) quit(1);
