/**
 * weft push: tells weft, right after a record it syncs is saved, which record changed.
 *
 * @NApiVersion 2.1
 * @NScriptType UserEventScript
 * @NModuleScope SameAccount
 *
 * Deploy on: Inventory Item, Customer, Sales Order, Item Fulfillment, Inventory Adjustment,
 * Credit Memo
 * (see README.md beside this file). Entry point: afterSubmit, for create, edit, xedit
 * (inline edit) and delete.
 *
 * What it posts (compact JSON, in this order):
 *   {"account", "recordType", "id", "event", "lastModifiedDate", "deliveryId"}
 * to the URL in the script parameter custscript_weft_push_url
 * (https://<weft host>/webhooks/<system>/<store>), with the headers
 *   Content-Type: application/json
 *   X-Weft-Signature: base64(HMAC-SHA256(secret, body))
 *   X-Weft-Delivery: <deliveryId>
 *   X-Weft-Topic: <recordType>/<event>
 * weft journals it as a hint and reads the record itself: the notification carries no field
 * values, so a lost, repeated or late one changes nothing but how soon weft knows.
 *
 * Assumptions (from Oracle's SuiteScript 2.x reference, found with `search`):
 * - afterSubmit runs after the record is committed: nothing here can undo or fail the save.
 *   Every error is caught and logged; the script never throws.
 * - N/https has no per-request timeout option: NetSuite gives up connecting after 5 s and
 *   sending after 45 s. That fixed 5 s connect timeout is the "short timeout": an unreachable
 *   weft delays the user's page by at most that, and weft's change capture (polling
 *   lastModifiedDate) picks the change up later. weft answers as soon as the hint is durable
 *   (milliseconds), so a reachable weft adds little.
 * - N/crypto signs only with a crypto.SecretKey, made from an API secret
 *   (Setup > Company > API Secrets) by its script id; the script parameter
 *   custscript_weft_push_secret holds that script id (e.g. custsecret_weft_push), never the
 *   secret itself. The API secret must allow this script.
 * - context.type is the UserEventType string ('create', 'edit', 'xedit', 'delete', ...);
 *   record.type is the SuiteScript record type ('inventoryitem', 'salesorder', ...).
 *   On xedit newRecord holds only the edited fields, so lastmodifieddate may be empty: the
 *   time now is sent instead (it only orders hints; weft versions what it reads). On delete
 *   the record is gone: oldRecord names it and the time now is sent.
 * - runtime.accountId is the account id weft is configured with (e.g. 1234567 or
 *   1234567_SB1); weft refuses a notification from another account.
 * - No retry: a user event runs once per save. What is lost, polling finds.
 */
define(['N/https', 'N/crypto', 'N/encode', 'N/runtime', 'N/log'], (https, crypto, encode, runtime, log) => {
    const EVENTS = ['create', 'edit', 'xedit', 'delete'];

    /** The ISO 8601 text of a date field value (a Date, or text), else of now. */
    const isoTime = (value) => {
        if (value instanceof Date && !isNaN(value.getTime())) {
            return value.toISOString();
        }
        if (typeof value === 'string' && value !== '') {
            const d = new Date(value);
            if (!isNaN(d.getTime())) {
                return d.toISOString();
            }
        }
        return new Date().toISOString();
    };

    /** The notification for one save. */
    const notification = (context) => {
        const event = String(context.type);
        const rec = event === 'delete' ? (context.oldRecord || context.newRecord) : context.newRecord;
        let modified = null;
        if (event !== 'delete') {
            try {
                modified = rec.getValue({ fieldId: 'lastmodifieddate' });
            } catch (e) {
                modified = null;
            }
        }
        const account = String(runtime.accountId);
        const recordType = String(rec.type).toLowerCase();
        const id = String(rec.id);
        const deliveryId = [account, recordType, id, Date.now(),
            Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, '0')].join(':');
        return {
            account: account,
            recordType: recordType,
            id: id,
            event: event,
            lastModifiedDate: isoTime(modified),
            deliveryId: deliveryId,
        };
    };

    /** Base64 HMAC-SHA256 of `body` under the API secret named `secretId`. */
    const sign = (secretId, body) => {
        const key = crypto.createSecretKey({ secret: secretId, encoding: encode.Encoding.UTF_8 });
        const hmac = crypto.createHmac({ algorithm: crypto.HashAlg.SHA256, key: key });
        hmac.update({ input: body, inputEncoding: encode.Encoding.UTF_8 });
        return hmac.digest({ outputEncoding: encode.Encoding.BASE_64 });
    };

    const afterSubmit = (context) => {
        try {
            if (EVENTS.indexOf(String(context.type)) < 0) {
                return;
            }
            const script = runtime.getCurrentScript();
            const url = script.getParameter({ name: 'custscript_weft_push_url' });
            const secretId = script.getParameter({ name: 'custscript_weft_push_secret' });
            if (!url || !secretId) {
                log.error({ title: 'weft push', details: 'custscript_weft_push_url and custscript_weft_push_secret must be set on the deployment' });
                return;
            }
            const n = notification(context);
            const body = JSON.stringify(n);
            const response = https.post({
                url: url,
                body: body,
                headers: {
                    'Content-Type': 'application/json',
                    'X-Weft-Signature': sign(secretId, body),
                    'X-Weft-Delivery': n.deliveryId,
                    'X-Weft-Topic': n.recordType + '/' + n.event,
                },
            });
            if (response.code < 200 || response.code > 299) {
                log.error({ title: 'weft push refused', details: 'HTTP ' + response.code + ' for ' + n.recordType + ' ' + n.id + ': ' + String(response.body).slice(0, 300) });
            }
        } catch (e) {
            // Unreachable, timed out, or a misconfigured secret: the save stands, polling
            // catches the change.
            log.error({ title: 'weft push failed', details: String(e && e.message ? e.message : e) });
        }
    };

    return { afterSubmit: afterSubmit };
});
