// Streams a run's events as they happen: output deltas on stdout, logs on stderr. A dropped connection is resumed
// where it left off (Last-Event-ID) without losing or repeating an event; Ctrl-C stops following.
//
//   GCORP_BASE_URL=http://127.0.0.1:4100 GCORP_API_KEY=gc_live_... node streaming.mjs [agent] [input JSON]
//   node streaming.mjs echo '{"message":"hi","events":5,"delay_ms":2000}'
import { APIError, APIUserAbortError, GenericCorp } from '@genericcorp/sdk';

const agent = process.argv[2] ?? 'echo';
const input = process.argv[3] ? JSON.parse(process.argv[3]) : { message: 'streamed', events: 5, delay_ms: 1_000 };

const gc = new GenericCorp();
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());

let stream;
try {
  const run = await gc.runs.create({ agent, input });
  console.error(`run ${run.id} queued`);

  stream = gc.runs.stream(run.id, { signal: controller.signal });
  for await (const event of stream) {
    switch (event.type) {
      case 'run.started':
        console.error(`started (attempt ${event.data.attempt})`);
        break;
      case 'run.output.delta': {
        const { delta } = event.data;
        process.stdout.write(typeof delta === 'string' ? delta : `${JSON.stringify(delta)}\n`);
        break;
      }
      case 'run.log':
        console.error(`[${event.data.level}] ${event.data.message}`);
        break;
      case 'run.usage':
        console.error(`usage: ${event.data.input_tokens} tokens in, ${event.data.output_tokens} out, ${event.data.run_seconds} s`);
        break;
      case 'run.completed':
        console.error(`run ${event.data.status}${event.data.error ? `: ${event.data.error.detail}` : ''}`);
        process.exitCode = event.data.status === 'succeeded' ? 0 : 1;
        break;
      default:
        break;
    }
  }
} catch (error) {
  if (error instanceof APIUserAbortError) {
    console.error(`stopped; resume later with gc.runs.stream(id, { lastEventId: '${stream?.lastEventId ?? ''}' })`);
    process.exitCode = 130;
  } else {
    console.error(error instanceof APIError ? `${error.name}: ${error.message}` : error);
    process.exitCode = 1;
  }
} finally {
  await gc.close();
}
