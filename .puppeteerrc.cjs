// Puppeteer downloads its own Chrome at install time unless told not to. Where a system
// Chromium exists (CHROME_PATH, then /usr/bin/chromium) we use that and skip the download;
// elsewhere puppeteer's default download still gives a working browser.
const fs = require('node:fs');
const system = [process.env.CHROME_PATH, '/usr/bin/chromium'].find((p) => p && fs.existsSync(p));
module.exports = { skipDownload: Boolean(system) };
