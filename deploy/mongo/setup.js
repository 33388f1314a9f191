// The mongo container's healthcheck (idempotent): the replica set, the
// administrator (created through the localhost exception on first start) and
// every service's user. Exits non-zero until all of that is in place.
const adminUser = process.env.MONGO_ADMIN_USER || "mash-admin";
const adminPassword = process.env.MONGO_ADMIN_PASSWORD;
if (!adminPassword) throw new Error("MONGO_ADMIN_PASSWORD is not set");
const adminDb = db.getSiblingDB("admin");
let authed = false;
try {
  authed = adminDb.auth(adminUser, adminPassword).ok === 1;
} catch (e) {
  authed = false;  // no users yet: the localhost exception applies
}
load("/etc/mash/init-replica-set.js");  // quits 1 until this node is primary
if (!authed) {
  adminDb.createUser({ user: adminUser, pwd: adminPassword, roles: ["root"] });
  adminDb.auth(adminUser, adminPassword);
}
load("/etc/mash/users.js");
