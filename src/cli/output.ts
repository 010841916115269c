/** One line of a command's result to stdout (progress and errors go to stderr). */
export const print = (s: string) => process.stdout.write(s + '\n');
