// A webhook receiver behind a function URL: it accepts a delivery only if
// its X-Hub-Signature-256 header is the HMAC-SHA256 of the raw body under
// the shared secret, as GitHub signs deliveries (Stripe and others sign the
// same way with their own header names).
import { createHmac, timingSafeEqual } from "node:crypto";

export const handler = async (event) => {
  const secret = process.env.WEBHOOK_SECRET;
  if (!secret) {
    return { statusCode: 500, body: JSON.stringify({ error: "WEBHOOK_SECRET is not set" }) };
  }
  // The signature covers the exact bytes sent: use the raw body, decoding
  // base64 when the function URL had to encode it.
  const raw = Buffer.from(event.body ?? "", event.isBase64Encoded ? "base64" : "utf8");
  const expected = Buffer.from("sha256=" + createHmac("sha256", secret).update(raw).digest("hex"));
  const received = Buffer.from(event.headers["x-hub-signature-256"] ?? "");
  if (received.length !== expected.length || !timingSafeEqual(received, expected)) {
    console.log("rejected a delivery with a bad signature");
    return { statusCode: 401, body: JSON.stringify({ error: "bad signature" }) };
  }
  const delivery = JSON.parse(raw.toString("utf8"));
  console.log("accepted delivery", event.headers["x-github-delivery"], "action", delivery.action);
  return { statusCode: 200, body: JSON.stringify({ received: delivery.action }) };
};
