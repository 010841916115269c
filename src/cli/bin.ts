#!/usr/bin/env node
import { main } from './main.js';
import { guardStdout, stdoutFailed } from './output.js';

guardStdout(); // a closed stdout sets exit 141 whenever its error arrives, even after main returned
main(process.argv.slice(2)).then((code) => {
  process.exitCode = stdoutFailed()?.exitCode ?? code;
});
