import { InputError, type TopicHandler } from '../mqtt/mqtt-driver.ts';
import { IntakeError, type CameraDriver } from './camera-driver.ts';

/**
 * The MQTT driver's handler for devices/{id}/snapshot[/{epochMs}]: intake errors become the MQTT
 * driver's input errors, so they are counted (source mqtt) and logged with device and topic.
 * The PUBACK goes out once the JPEG is queued, before analysis.
 */
export function snapshotTopicHandler(driver: CameraDriver): TopicHandler {
  return async (deviceId, subtopic, payload) => {
    try {
      await driver.onMqttSnapshot(deviceId, subtopic, payload);
    } catch (error) {
      if (error instanceof IntakeError) throw new InputError(error.reason, error.message);
      throw error;
    }
  };
}
