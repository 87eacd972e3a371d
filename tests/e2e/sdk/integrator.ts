// A third-party integrator's code, written against the platform's official SDK and its models, run
// unchanged against `make run` (tests/test_sdk.py). Compiled with `tsc --strict` first, so every call
// and every response is typed by the SDK's own models. Each step must succeed, or fail with exactly
// the error class the SDK raises for the documented status. Results go to $OUT as JSON lines, which
// the Python side checks against the platform's documented response schemas.
import { writeFileSync } from "node:fs";
import {
  GHLAuthenticationError,
  GHLError,
  GHLForbiddenError,
  GHLNotFoundError,
  GHLRateLimitError,
  GHLValidationError,
  HighLevel,
} from "@gohighlevel/api-client";
import type {
  ContactsByIdSuccessfulResponseDto,
  ContactsSearchSuccessfulResponseDto,
  CreateContactDto,
  CreateContactsSuccessfulResponseDto,
  DeleteContactsSuccessfulResponseDto,
  SearchBodyV2DTO,
  UpdateContactDto,
  UpdateContactsSuccessfulResponseDto,
  UpsertContactDto,
  UpsertContactsSuccessfulResponseDto,
} from "@gohighlevel/api-client/dist/lib/code/contacts/models/contacts";
import type {
  CreateLocationSuccessfulResponseDto,
  GetLocationByIdSuccessfulResponseDto,
  UpdateLocationDto,
} from "@gohighlevel/api-client/dist/lib/code/locations/models/locations";

interface Setup {
  base: string;
  out: string;
  agencyId: string;
  locationId: string;
  otherLocationId: string;
  tokens: { location: string; agency: string; readonly: string; revoked: string; garbage: string; limited: string };
}

interface Step {
  step: string;
  method: string;
  path: string;
  status: number;
  body: unknown;
}

type ErrorClass = typeof GHLAuthenticationError | typeof GHLForbiddenError | typeof GHLNotFoundError | typeof GHLValidationError;

const setup = JSON.parse(process.env.SDK_SETUP ?? "{}") as Setup;
const steps: Step[] = [];

function sdk(token: string, apiVersion?: string, rateLimitRetry = false): HighLevel {
  // No apiVersion: the SDK sends its default Version header (2023-02-21), as an integrator's code would.
  const ghl = new HighLevel({ privateIntegrationToken: token, logLevel: "none", rateLimitRetry, ...(apiVersion ? { apiVersion } : {}) });
  ghl.getHttpClient().defaults.baseURL = setup.base;
  return ghl;
}

function check(condition: boolean, what: string): void {
  if (!condition) {
    throw new Error(`check failed: ${what}`);
  }
}

async function ok<T>(step: string, method: string, path: string, call: () => Promise<T>): Promise<T> {
  const body = await call();
  // The SDK hands back only the body; the documents give create 201 and everything else 200.
  steps.push({ step, method, path, status: method === "POST" && path === "/contacts/" ? 201 : 200, body });
  return body;
}

async function fails(step: string, method: string, path: string, expected: ErrorClass, status: number, call: () => Promise<unknown>): Promise<GHLError> {
  try {
    await call();
  } catch (error) {
    if (!(error instanceof expected) || error.statusCode !== status) {
      throw new Error(`${step}: expected ${expected.name} ${status}, got ${String(error)} ${(error as GHLError).statusCode}`);
    }
    steps.push({ step, method, path, status, body: error.response });
    return error;
  }
  throw new Error(`${step}: expected ${expected.name} ${status}, but the call succeeded`);
}

async function main(): Promise<void> {
  const { locationId, otherLocationId, agencyId, tokens } = setup;
  const location = sdk(tokens.location);
  const agency = sdk(tokens.agency, "2021-07-28");

  // Locations: a location token reads its own location; an agency token reads and updates any of its agency's.
  const own: GetLocationByIdSuccessfulResponseDto = await ok("get own location", "GET", `/locations/${locationId}`, () =>
    location.locations.getLocation({ locationId }),
  );
  check(own.location?.id === locationId && own.location?.companyId === agencyId, "location.companyId is the agency");
  const viaAgency: GetLocationByIdSuccessfulResponseDto = await ok("agency gets a location", "GET", `/locations/${otherLocationId}`, () =>
    agency.locations.getLocation({ locationId: otherLocationId }),
  );
  check(viaAgency.location?.companyId === agencyId, "agency token reads another location of its agency");
  const update: UpdateLocationDto = { companyId: agencyId, name: "Downtown Dental & Co", city: "Springfield", country: "US" };
  const updated: CreateLocationSuccessfulResponseDto = await ok("agency updates a location", "PUT", `/locations/${locationId}`, () =>
    agency.locations.putLocation({ locationId }, update),
  );
  check(updated.name === update.name && updated.city === "Springfield" && updated.companyId === agencyId, "PUT answers the flat location");
  await fails("location token cannot update", "PUT", `/locations/${locationId}`, GHLForbiddenError, 403, () =>
    location.locations.putLocation({ locationId }, update),
  );
  await fails("another location", "GET", `/locations/${otherLocationId}`, GHLForbiddenError, 403, () =>
    location.locations.getLocation({ locationId: otherLocationId }),
  );

  // Contacts, with the SDK's own DTOs.
  const newContact: CreateContactDto = {
    locationId,
    firstName: "Rosan",
    lastName: "Deo",
    email: "rosan@deos.com",
    phone: "+1 888-888-8888",
    address1: "3535 1st St N",
    city: "Dolomite",
    state: "AL",
    postalCode: "35061",
    country: "US",
    website: "https://www.tesla.com",
    timezone: "America/Chihuahua",
    dnd: true,
    dndSettings: { SMS: { status: "active", message: "asked", code: "c1" } },
    tags: ["nisi sint commodo amet", "consequat"],
    customFields: [{ id: "6dvNaf7VhkQ9snc5vnjJ", key: "my_custom_field", field_value: "9039160788" }],
    source: "public api",
    dateOfBirth: "1990-09-25",
    companyName: "DGS VolMAX",
    gender: "male",
    assignedTo: "y0BeYjuRIlDwsDcOHOJo",
  };
  const created: CreateContactsSuccessfulResponseDto = await ok("create contact", "POST", "/contacts/", () =>
    location.contacts.createContact(newContact),
  );
  const contactId = created.contact?.id ?? "";
  check(contactId !== "" && created.contact?.companyName === "DGS VolMAX", "created contact has its fields");
  const fetched: ContactsByIdSuccessfulResponseDto = await ok("get contact", "GET", `/contacts/${contactId}`, () =>
    location.contacts.getContact({ contactId }),
  );
  check(fetched.contact?.email === "rosan@deos.com" && fetched.contact?.dnd === true, "get returns the stored contact");
  check(fetched.contact?.dndSettings?.SMS?.status === "active", "dndSettings round-trips");
  const change: UpdateContactDto = { city: "Birmingham", tags: ["vip"] };
  const changed: UpdateContactsSuccessfulResponseDto = await ok("update contact", "PUT", `/contacts/${contactId}`, () =>
    location.contacts.updateContact({ contactId }, change),
  );
  check(changed.succeded === true && changed.contact?.city === "Birmingham" && changed.contact?.website === "https://www.tesla.com", "update");
  const duplicate = await fails("duplicate contact", "POST", "/contacts/", GHLValidationError, 400, () =>
    location.contacts.createContact({ locationId, email: "ROSAN@deos.com" }),
  );
  const meta = (duplicate.response as { meta?: { contactId?: string; matchingField?: string } }).meta;
  check(meta?.contactId === contactId && meta?.matchingField === "email", "duplicate meta names the contact");

  const listed: ContactsSearchSuccessfulResponseDto = await ok("get contacts by query", "GET", "/contacts/", () =>
    location.contacts.getContacts({ locationId, query: "rosan@deos.com", limit: 10 }),
  );
  check(listed.contacts?.length === 1 && listed.contacts[0]?.id === contactId, "query finds exactly the contact");
  const search: SearchBodyV2DTO = { locationId, pageLimit: 10, filters: [{ field: "tags", operator: "eq", value: "vip" }] };
  const searched = (await ok("search contacts", "POST", "/contacts/search", () => location.contacts.searchContactsAdvanced(search))) as {
    contacts: { id: string }[];
    total: number;
  };
  check(searched.total === 1 && searched.contacts[0]?.id === contactId, "search finds the tagged contact");
  await fails("search with an unserved filter", "POST", "/contacts/search", GHLValidationError, 422, () =>
    location.contacts.searchContactsAdvanced({ locationId, filters: [{ field: "dateAdded", operator: "range", value: { gt: 1 } }] } as SearchBodyV2DTO),
  );
  const found = (await ok("duplicate lookup", "GET", "/contacts/search/duplicate", () =>
    location.contacts.getDuplicateContact({ locationId, email: "rosan@deos.com" }),
  )) as { contact: { id: string } | null };
  check(found.contact?.id === contactId, "duplicate lookup finds the contact");

  const upsertExisting: UpsertContactDto = { locationId, email: "rosan@deos.com", companyName: "Tesla" };
  const upserted: UpsertContactsSuccessfulResponseDto = await ok("upsert existing", "POST", "/contacts/upsert", () =>
    location.contacts.upsertContact(upsertExisting),
  );
  check(upserted.new === false && upserted.contact?.id === contactId && upserted.contact?.companyName === "Tesla", "upsert updates");
  const upsertNew: UpsertContactsSuccessfulResponseDto = await ok("upsert new", "POST", "/contacts/upsert", () =>
    location.contacts.upsertContact({ locationId, phone: "+1 555 010 0199", firstName: "Nia" }),
  );
  check(upsertNew.new === true && upsertNew.contact?.id !== contactId, "upsert creates");

  // Scopes and tenancy.
  await fails("missing scope", "POST", "/contacts/", GHLForbiddenError, 403, () =>
    sdk(tokens.readonly).contacts.createContact({ locationId, firstName: "No" }),
  );
  await fails("contact in another location", "POST", "/contacts/", GHLForbiddenError, 403, () =>
    location.contacts.createContact({ locationId: otherLocationId, firstName: "Elsewhere" }),
  );

  const deleted: DeleteContactsSuccessfulResponseDto = await ok("delete contact", "DELETE", `/contacts/${contactId}`, () =>
    location.contacts.deleteContact({ contactId }),
  );
  check(deleted.succeded === true, "delete answers succeded");
  await fails("deleted contact is gone", "GET", `/contacts/${contactId}`, GHLNotFoundError, 404, () =>
    location.contacts.getContact({ contactId }),
  );

  // Tokens that must not work.
  await fails("revoked token", "GET", `/locations/${locationId}`, GHLAuthenticationError, 401, () =>
    sdk(tokens.revoked).locations.getLocation({ locationId }),
  );
  await fails("garbage token", "GET", `/locations/${locationId}`, GHLAuthenticationError, 401, () =>
    sdk(tokens.garbage).locations.getLocation({ locationId }),
  );
  await fails("unsupported Version", "GET", `/locations/${locationId}`, GHLValidationError, 400, () =>
    sdk(tokens.location, "2020-01-01").locations.getLocation({ locationId }),
  );

  // Rate limits: past 100 requests in a 10 s window the SDK raises GHLRateLimitError with what it read
  // from the x-ratelimit-* headers (no retry by default). Sent 120 at a time, so that a 10 s window
  // holds more than 100 even on a slow machine (windows are fixed: a burst may straddle two).
  const hurried = sdk(tokens.limited);
  let refused: GHLRateLimitError | undefined;
  for (let round = 0; round < 3 && refused === undefined; round++) {
    const answers = await Promise.allSettled(Array.from({ length: 120 }, () => hurried.locations.getLocation({ locationId })));
    for (const answer of answers) {
      if (answer.status === "fulfilled") continue;
      if (!(answer.reason instanceof GHLRateLimitError)) throw answer.reason;
      refused = refused ?? answer.reason;
    }
  }
  check(refused !== undefined && refused.statusCode === 429, "a burst of requests gets a 429");
  const info = refused?.rateLimit;
  check(info?.scope === "burst" && info.max === 100 && info.remaining === 0 && info.intervalMs === 10000, `burst limit read: ${JSON.stringify(info)}`);
  check(info?.dailyLimit === 200000 && (info.dailyRemaining ?? 0) > 0, "daily limit read");
  steps.push({ step: "burst limit", method: "GET", path: `/locations/${locationId}`, status: 429, body: refused?.response });
  // rateLimitRetry: the SDK waits x-ratelimit-interval-milliseconds and the same call succeeds.
  const patient = sdk(tokens.limited, undefined, true);
  const retried: GetLocationByIdSuccessfulResponseDto = await ok("burst limit retried", "GET", `/locations/${locationId}`, () =>
    patient.locations.getLocation({ locationId }),
  );
  check(retried.location?.id === locationId, "the retried call answers the location");
}

main()
  .then(() => {
    writeFileSync(setup.out, steps.map((step) => JSON.stringify(step)).join("\n") + "\n");
  })
  .catch((error: unknown) => {
    writeFileSync(setup.out, steps.map((step) => JSON.stringify(step)).join("\n") + "\n");
    console.error(error instanceof Error ? error.stack ?? error.message : String(error));
    process.exit(1);
  });
