<?php
// A webhook receiver as RaspiSMS users write them, run with `php -S 127.0.0.1:PORT raspisms_receiver.php`.
//
// It checks the signature as RaspiSMS's documentation says (hash_hmac of webhook_random_id with the API
// key), decodes the body with json_decode, then checks the body for the flavour in the URL path:
//   /raspisms    the body must be byte for byte what RaspiSMS 3.9.5's code json_encodes: the array is
//                rebuilt here the way its code builds it (controllers/internals/Received.php:374-386,
//                Sended.php:360-373 and 121-127, Call.php:34-43, Console.php:284-293 at
//                RaspbianFrance/raspisms@5e2b030), from the decoded values cast to the code's types,
//                and json_encode of it must give the very bytes received;
//   /documented  the body must have the keys, order and types RaspiSMS's documentation gives
//                (RaspbianFrance/raspisms-documentation@fac2cd9:source/developpers/webhooks/overview.rst).
// Each request appends one JSON line to $RECEIVER_LOG: flavor, type, ok, why, the raw body. It answers
// 200 when every check passed, 400 otherwise.

$key = getenv('RASPISMS_API_KEY');
$log = getenv('RECEIVER_LOG');
$flavor = trim(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH), '/');
$type = $_POST['webhook_type'] ?? '';
$raw = $_POST['body'] ?? '';
$why = [];

$expected = hash_hmac('sha256', $_POST['webhook_random_id'] ?? '', $key);
if (!hash_equals($expected, $_POST['webhook_signature'] ?? '')) {
    $why[] = 'bad signature';
}
if (($_POST['webhook_timestamp'] ?? '') !== explode('-', $_POST['webhook_random_id'] ?? '')[0]) {
    $why[] = 'webhook_random_id does not start with webhook_timestamp';
}
$b = json_decode($raw, true);
if (!is_array($b)) {
    $why[] = 'body is not a JSON object';
    $b = [];
}

function same_keys(array $b, array $keys, array &$why): void {
    if (array_keys($b) !== $keys) {
        $why[] = 'keys ' . implode(',', array_keys($b)) . ' instead of ' . implode(',', $keys);
    }
}

if ($flavor === 'raspisms') {
    switch ($type) {
        case 'receive_sms':
            $rebuilt = [
                'id' => (int) $b['id'], 'at' => (string) $b['at'], 'text' => (string) $b['text'],
                'destination' => (int) $b['destination'], 'origin' => (string) $b['origin'],
                'command' => false, 'mms' => false, 'medias' => [],
            ];
            break;
        case 'send_sms':
            $rebuilt = [
                'id' => (int) $b['id'], 'at' => (string) $b['at'], 'status' => (string) $b['status'],
                'text' => (string) $b['text'], 'destination' => (string) $b['destination'],
                'origin' => (int) $b['origin'], 'mms' => false, 'medias' => [],
                'originating_scheduled' => (int) $b['originating_scheduled'],
            ];
            break;
        case 'send_sms_status_change':
            $rebuilt = ['id' => (int) $b['id'], 'status' => (string) $b['status']];
            if (!in_array($b['status'], ['unknown', 'delivered', 'failed'], true)) {
                $why[] = 'status ' . $b['status'] . ' is not one of the code\'s';
            }
            break;
        case 'inbound_call':
            $rebuilt = [
                'id_user' => (int) $b['id_user'], 'id_phone' => (int) $b['id_phone'], 'uid' => (string) $b['uid'],
                'start' => (string) $b['start'], 'end' => $b['end'], 'direction' => (string) $b['direction'],
                'origin' => $b['origin'], 'destination' => null, 'id' => (int) $b['id'],
            ];
            break;
        default:
            $rebuilt = null;
            $why[] = 'unexpected type ' . $type;
    }
    if ($rebuilt !== null && json_encode($rebuilt) !== $raw) {
        $why[] = 'not byte for byte what RaspiSMS sends: expected ' . json_encode($rebuilt);
    }
} elseif ($flavor === 'documented') {
    switch ($type) {
        case 'receive_sms':
            same_keys($b, ['id', 'at', 'origin', 'destination', 'text', 'mms'], $why);
            if ($b['mms'] !== 0 || !is_int($b['id']) || !is_int($b['destination'])) {
                $why[] = 'mms must be 0, id and destination integers';
            }
            break;
        case 'send_sms':
            same_keys($b, ['id', 'at', 'status', 'origin', 'destination', 'text', 'mms',
                'originating_scheduled', 'tag'], $why);
            if ($b['mms'] !== 0 || !is_string($b['tag'])) {
                $why[] = 'mms must be 0 and tag a string';
            }
            break;
        case 'send_sms_status_change':
            same_keys($b, ['id', 'status'], $why);
            if (!in_array($b['status'], ['success', 'failed', 'unknown'], true)) {
                $why[] = 'status ' . $b['status'] . ' is not one of the documented words';
            }
            break;
        default:
            $why[] = 'unexpected type ' . $type;
    }
} else {
    $why[] = 'unknown flavor ' . $flavor;
}

file_put_contents($log, json_encode([
    'flavor' => $flavor, 'type' => $type, 'ok' => !$why, 'why' => $why, 'body' => $raw,
]) . "\n", FILE_APPEND | LOCK_EX);
http_response_code($why ? 400 : 200);
echo $why ? implode("\n", $why) : 'ok';
