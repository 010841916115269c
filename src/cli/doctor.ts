import { doctor } from '../doctor.js';
import { doctorToText } from '../report/doctor-text.js';
import { parseCommandArgs, parsePid, usageError } from './args.js';
import { print } from './output.js';

export const DOCTOR_USAGE = `  doctor [pid] [--json]
        what this kernel can track, and whether <pid> can be tracked`;

export async function doctorCommand(args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, { json: { type: 'boolean' } });
  if (positionals.length > 1) throw usageError(`unexpected argument '${positionals[1]}'`);
  const pid = positionals[0] === undefined ? undefined : parsePid(positionals[0]);
  const report = doctor(pid);
  print(values.json ? JSON.stringify(report) : doctorToText(report));
}
