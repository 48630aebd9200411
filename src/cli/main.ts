import { processIO, type CliIO, type Subcommand } from './io.js';
import { ShellgateError, UsageError } from '../errors.js';

/** Subcommand name (one or two words) → module under src/cli/. Loaded lazily so `--help` is fast. */
const COMMANDS: Record<string, { file: string; summary: string }> = {
  serve: { file: './serve.js', summary: 'run the gateway from a config file' },
  demo: { file: './demo.js', summary: 'run a demo gateway on an embedded default config' },
  token: { file: './token.js', summary: 'mint a token from the dev issuer' },
  ticket: { file: './ticket.js', summary: 'exchange $SHELLGATE_TOKEN for a short one-time ticket' },
  ssh: { file: './ssh.js', summary: 'connect to a target through the gateway as an agent' },
  approvals: { file: './approvals.js', summary: 'approve or deny pending requests' },
  'policy check': { file: './policy-check.js', summary: 'decide command lines against a policy file' },
  mask: { file: './mask.js', summary: 'mask secrets in stdin with the gateway\'s masker' },
  'audit verify': { file: './audit-verify.js', summary: 'verify the audit chain, checkpoints and recordings' },
  'audit export': { file: './audit-export.js', summary: 'export audit events (JSON lines)' },
  'audit pubkey': { file: './audit-pubkey.js', summary: 'print the checkpoint public key (JWK)' },
  vault: { file: './vault.js', summary: 'manage upstream credentials: add, list, remove' },
  sessions: { file: './sessions.js', summary: 'list recorded sessions' },
  replay: { file: './replay.js', summary: 'play a recorded session in the terminal' },
};

export const USAGE = `usage: shellgate <command> [options]   (shellgate <command> --help for details)

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`)
  .join('\n')}
`;

export async function main(argv: string[], io: CliIO = processIO()): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(USAGE);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version') {
    io.stdout.write('shellgate 0.1.0\n');
    return 0;
  }
  const two = argv.length > 1 ? `${argv[0]} ${argv[1]}` : '';
  let name: string;
  let rest: string[];
  if (two && COMMANDS[two]) {
    name = two;
    rest = argv.slice(2);
  } else if (COMMANDS[argv[0]!]) {
    name = argv[0]!;
    rest = argv.slice(1);
  } else {
    const group = Object.keys(COMMANDS).filter((k) => k.startsWith(argv[0] + ' '));
    io.stderr.write(
      group.length
        ? `shellgate: '${argv[0]}' needs one of: ${group.map((g) => g.split(' ')[1]).join(', ')}\n`
        : `shellgate: unknown command '${argv[0]}' (see shellgate --help)\n`,
    );
    return 2;
  }
  if (name !== 'serve' && name !== 'demo') quietOnBrokenPipe(io);
  const mod = (await import(COMMANDS[name]!.file)) as Subcommand;
  // Only the subcommand's own options: after `--` come a command line's words (`-- df -h`).
  const dd = rest.indexOf('--');
  const own = dd < 0 ? rest : rest.slice(0, dd);
  if (own.includes('--help') || own.includes('-h')) {
    io.stdout.write(mod.help.endsWith('\n') ? mod.help : mod.help + '\n');
    return 0;
  }
  try {
    return await mod.run(rest, io);
  } catch (err) {
    // User and domain errors are one clear line; anything else is a bug, but still no stack trace by default.
    if (err instanceof UsageError) {
      io.stderr.write(`shellgate ${name}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof ShellgateError) {
      io.stderr.write(`shellgate ${name}: ${err.message}\n`);
      return err.code === 'ERR_CONFIG' || err.code === 'ERR_POLICY' ? 2 : 1;
    }
    io.stderr.write(`shellgate ${name}: ${(err as Error)?.message ?? String(err)}\n`);
    if (io.env.SHELLGATE_DEBUG) io.stderr.write(String((err as Error)?.stack) + '\n');
    return 1;
  }
}

/**
 * A reader that went away (`shellgate sessions | head`) ends a command's output quietly, as
 * other CLI tools do; unhandled, the EPIPE surfaced as an uncaught error with its stack. Not
 * for the gateway (serve, demo): its log on stdout going away must not stop it.
 */
function quietOnBrokenPipe(io: CliIO): void {
  if (io.stdout !== process.stdout || process.stdout.listenerCount('error') > 0) return;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    process.stderr.write(`shellgate: cannot write the output: ${err.message}\n`);
    process.exit(1);
  });
}
