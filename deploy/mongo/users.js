// One database user per service and per agency's research service, each with
// readWrite on its own database only; the operator reads every database.
// Idempotent: an existing user gets its password and roles set again.
// Passwords come from the environment: MASH_MONGO_PASSWORD_<NAME>, NAME
// upper-cased with '-' as '_' (URL-safe: they go into each service's URI).
const agencies = (process.env.MASH_AGENCIES ||
  "police,health,education,childrens-social-care,probation,housing").split(",");

function passwordOf(name) {
  const variable = "MASH_MONGO_PASSWORD_" + name.toUpperCase().replace(/-/g, "_");
  const value = process.env[variable];
  if (!value) throw new Error(variable + " is not set");
  return value;
}

const users = [
  { user: "intake", roles: [{ role: "readWrite", db: "mash_intake" }] },
  { user: "decision", roles: [{ role: "readWrite", db: "mash_decision" }] },
  { user: "notify", roles: [{ role: "readWrite", db: "mash_notify" }] },
  { user: "desk", roles: [{ role: "readWrite", db: "mash_desk" }] },
  ...agencies.map((agency) => ({
    user: "research-" + agency,
    roles: [{ role: "readWrite", db: "mash_research_" + agency.replace(/-/g, "_") }],
  })),
  // `mash case`, `mash audit verify`: reads every database, writes the operator's own.
  { user: "mash-operator",
    roles: [{ role: "readAnyDatabase", db: "admin" }, { role: "readWrite", db: "mash_operator" }] },
];

const admin = db.getSiblingDB("admin");
for (const { user, roles } of users) {
  const pwd = passwordOf(user);
  if (admin.getUser(user)) admin.updateUser(user, { pwd, roles });
  else admin.createUser({ user, pwd, roles });
}
