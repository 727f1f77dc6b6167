// GPU cases in headless Chrome, shard 1 of 2 (see chrome-suite.ts).
import { chromeSplit } from './cases/index.js';
import { chromeSuite } from './chrome-suite.js';

chromeSuite(0, 2, (_c, i) => (i < chromeSplit ? 0 : 1));
