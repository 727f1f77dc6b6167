// The browser training page in headless Chrome: train a few steps, check the plots have drawn.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { serveDemo } from '../../examples/demo.js';
import { launchChrome } from '../../examples/chrome.js';

it.skipIf(process.env.DEEPFRIED_SKIP_CHROME === '1')('demo page trains in headless Chrome and draws its loss plot', async () => {
  const served = await serveDemo();
  const browser = await launchChrome();
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1000, height: 700 });
    await page.goto(served.url);
    await page.waitForFunction(() => document.getElementById('status')?.textContent === 'ready', { timeout: 60_000 });
    await page.select('#model', 'adaptive-fastfood-1024');
    await page.$eval('#limit', (e) => { (e as HTMLInputElement).value = '640'; });
    await page.$eval('#epochs', (e) => { (e as HTMLInputElement).value = '1'; });
    await page.click('#start');
    await page.waitForFunction(() => {
      const s = (globalThis as any).__demo;
      const st = document.getElementById('status')?.textContent ?? '';
      if (st.startsWith('error')) throw new Error(st);
      return s.evals >= 1 && !s.running;
    }, { timeout: 240_000, polling: 500 });
    // the loss plot's canvas has coloured (the series' red) pixels
    const red = await page.$eval('#loss canvas', (c) => {
      const ctx = (c as HTMLCanvasElement).getContext('2d')!;
      const d = ctx.getImageData(0, 0, (c as HTMLCanvasElement).width, (c as HTMLCanvasElement).height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i]! > 150 && d[i + 1]! < 100 && d[i + 2]! < 100) n++;
      return n;
    });
    expect(await page.$eval('#status', (e) => e.textContent)).toBe('done');
    // a drawn stroke gets a prediction from the trained model (10 class probabilities summing to 1)
    const box = await (await page.$('#draw'))!.boundingBox();
    await page.mouse.move(box!.x + 98, box!.y + 30);
    await page.mouse.down();
    for (let y = 30; y <= 170; y += 10) await page.mouse.move(box!.x + 98, box!.y + y);
    await page.mouse.up();
    await page.waitForFunction(() => (globalThis as any).__demo.predictions >= 2, { timeout: 60_000 });
    const probs = await page.$eval('#probs', (e) => e.textContent ?? '');
    const ps = [...probs.matchAll(/(\d): ([\d.]+)%/g)].map((m) => Number(m[2]));
    expect(ps.length).toBe(10);
    expect(Math.abs(ps.reduce((a, b) => a + b, 0) - 100)).toBeLessThan(1);
    expect(await page.$eval('#guess', (e) => e.textContent)).toMatch(/^\d$/);
    // the trained model downloads as safetensors; a checkpoint of ours loads back and predicts
    await page.click('#download');
    await page.waitForFunction(() => (globalThis as any).__demo.downloaded > 100_000, { timeout: 30_000 });
    const input = (await page.$('#load'))!;
    await (input as import('puppeteer').ElementHandle<HTMLInputElement>).uploadFile('results/mnist/reference.safetensors');
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('loaded'), { timeout: 60_000 });
    expect(await page.$eval('#status', (e) => e.textContent)).toBe('loaded reference (step 9370)');
    await page.waitForFunction(() => (globalThis as any).__demo.predictions >= 3, { timeout: 60_000 });
    const shot = join(mkdtempSync(join(tmpdir(), 'deepfried-')), 'demo.png');
    await page.screenshot({ path: shot });
    console.log(`demo screenshot: ${shot}; ${red} plotted pixels; status "${await page.$eval('#status', (e) => e.textContent)}"`);
    expect(red).toBeGreaterThan(50);
    expect(await page.$eval('#params', (e) => e.textContent)).toBe('431,080');
  } finally {
    await browser.close();
    await served.close();
  }
}, 300_000);
