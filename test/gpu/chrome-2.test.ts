// GPU cases in headless Chrome, shard 2 of 2 (see chrome-suite.ts).
import { chromeSplit } from './cases/index.js';
import { chromeSuite } from './chrome-suite.js';

chromeSuite(1, 2, (_c, i) => (i < chromeSplit ? 0 : 1));
