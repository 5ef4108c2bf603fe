// Runs weft_push.js under Node with small stand-ins for the N/ modules it uses, for weft's
// tests (platforms/netsuite/tests/push.rs). Not deployed to NetSuite.
//
//   node harness.js <cases.json>
//
// cases.json: {"script": path, "url": ..., "secretId": ..., "apiSecrets": {id: value},
//   "accountId": ..., "cases": [{"type", "recordType", "id", "lastModifiedDate"}]}
// Prints one JSON line per case: {"posted": [{url, headers, body}], "status": [...],
// "logs": [...], "threw": null|message}.
//
// Stand-ins: N/https.post is synchronous in NetSuite; here it runs a child Node process that
// makes the request with fetch (5 s connect budget, as NetSuite's) and returns
// {code, body}. N/crypto signs with Node's HMAC, the key looked up by the API secret's id as
// NetSuite does. N/runtime gives the account id and the deployment's parameters.
'use strict';
const fs = require('fs');
const nodeCrypto = require('crypto');
const { execFileSync } = require('child_process');

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
let posted = [];
let logs = [];

const Encoding = { UTF_8: 'UTF_8', BASE_64: 'BASE_64', HEX: 'HEX' };
const modules = {
    'N/https': {
        post(options) {
            if (typeof options.body !== 'string') throw new Error('body must be a string here');
            posted.push({ url: options.url, headers: options.headers, body: options.body });
            const child = `
                const o = JSON.parse(process.argv[1]);
                const ctl = new AbortController();
                setTimeout(() => ctl.abort(), 5000);
                fetch(o.url, { method: 'POST', headers: o.headers, body: o.body, signal: ctl.signal })
                  .then(async r => { process.stdout.write(JSON.stringify({ code: r.status, body: await r.text() })); })
                  .catch(e => { process.stdout.write(JSON.stringify({ error: String(e) })); });`;
            const out = JSON.parse(execFileSync(process.execPath, ['-e', child, JSON.stringify(options)], { encoding: 'utf8' }));
            if (out.error) {
                const e = new Error('SSS_CONNECTION_TIME_OUT: ' + out.error);
                e.name = 'SSS_CONNECTION_TIME_OUT';
                throw e;
            }
            return { code: out.code, body: out.body, headers: {} };
        },
    },
    'N/crypto': {
        HashAlg: { SHA1: 'SHA1', SHA256: 'SHA256', SHA512: 'SHA512' },
        createSecretKey(options) {
            if (options.guid !== undefined && options.secret !== undefined) throw new Error('guid and secret together');
            if (!(options.secret in spec.apiSecrets)) throw new Error('INVALID_SECRET_KEY: no API secret ' + options.secret);
            return { value: spec.apiSecrets[options.secret], encoding: options.encoding };
        },
        createHmac(options) {
            if (options.algorithm !== 'SHA256') throw new Error('the stand-in signs SHA256 only');
            const h = nodeCrypto.createHmac('sha256', Buffer.from(options.key.value, 'utf8'));
            return {
                update(o) {
                    if (o.inputEncoding !== Encoding.UTF_8) throw new Error('UTF_8 input only');
                    h.update(Buffer.from(o.input, 'utf8'));
                },
                digest(o) {
                    if (o.outputEncoding === Encoding.BASE_64) return h.digest('base64');
                    if (o.outputEncoding === Encoding.HEX) return h.digest('hex');
                    throw new Error('unsupported output encoding');
                },
            };
        },
    },
    'N/encode': { Encoding },
    'N/runtime': {
        accountId: spec.accountId,
        getCurrentScript() {
            return {
                getParameter(o) {
                    return { custscript_weft_push_url: spec.url, custscript_weft_push_secret: spec.secretId }[o.name] || null;
                },
            };
        },
    },
    'N/log': {
        debug(o) { logs.push(['debug', o.title, o.details]); },
        audit(o) { logs.push(['audit', o.title, o.details]); },
        error(o) { logs.push(['error', o.title, o.details]); },
    },
};

let script = null;
global.define = (deps, factory) => { script = factory(...deps.map(d => modules[d])); };
// eslint-disable-next-line no-eval
(0, eval)(fs.readFileSync(spec.script, 'utf8'));

for (const c of spec.cases) {
    posted = [];
    logs = [];
    const rec = {
        type: c.recordType,
        id: Number(c.id),
        getValue(o) {
            if (o.fieldId === 'lastmodifieddate' && c.lastModifiedDate) return new Date(c.lastModifiedDate);
            return '';
        },
    };
    const context = {
        type: c.type,
        newRecord: rec,
        oldRecord: c.type === 'create' ? null : rec,
        UserEventType: { CREATE: 'create', EDIT: 'edit', XEDIT: 'xedit', DELETE: 'delete' },
    };
    let threw = null;
    try {
        script.afterSubmit(context);
    } catch (e) {
        threw = String(e);
    }
    process.stdout.write(JSON.stringify({ posted, logs, threw }) + '\n');
}
