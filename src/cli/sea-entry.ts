// Entry of the single executable (scripts/build-sea.mjs bundles it to CommonJS): the same
// launcher as bin/iotsocket.js, but importing the sources, so the bundle needs no dist/.
import { holdYoungGeneration } from './young-generation.js';
import { holdTierUp } from './tier-up.js';

holdYoungGeneration();
holdTierUp();
void import('./main.js').then(({ main }) => main(process.argv)).then((code) => { if (typeof code === 'number') process.exitCode = code; });
